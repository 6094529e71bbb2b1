/**
 * A sortable table that renders only the rows in view (plus a margin), so tens of thousands of
 * rows scroll smoothly: a spacer gives the scroll height, a small pool of row elements is
 * positioned over the visible window and refilled on scroll. For assistive technology it is a
 * grid: the focusable viewport names the selected row through aria-activedescendant, so moving the
 * selection with the arrow keys is announced, and rows carry their index among all rows.
 */
import { h } from '../shared/dom';

/** Tables made so far (their row ids must be unique in the page). */
let tablesMade = 0;

/** One column. */
export interface Column<T> {
  /** Sort key (stored in the webview state). */
  key: string;
  /** Header text. */
  title: string;
  /** Width as a CSS grid track, e.g. 'minmax(180px, 3fr)' or '90px'. */
  width: string;
  /** Smallest width of the column, in CSS pixels (the table scrolls sideways below the sum). */
  minPx: number;
  /** Right-aligned numbers. */
  numeric?: boolean;
  /** Cell text (always inserted as text). */
  text(row: T): string;
  /** Sort value; rows without one sort last. */
  sortValue(row: T): number | string | null | undefined;
  /** Optional extra class of a cell (e.g. a warning marker). */
  cellClass?(row: T): string | undefined;
  /** Optional tooltip of a cell. */
  tooltip?(row: T): string | undefined;
}

/** Height of one row, in CSS pixels (kept in sync with .vt-row in the stylesheet). */
export const rowHeightPx = 24;
/** Rows rendered above and below the visible window. */
const overscanRows = 8;
/** Horizontal gap between cells and padding of a row, in CSS pixels (as in the stylesheet). */
const columnGapPx = 8;
const rowPaddingPx = 8;

/** The table. */
export class VirtualTable<T> {
  /** Root element to insert in the page. */
  readonly element: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly viewport: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly pool: HTMLDivElement[] = [];
  private all: T[] = [];
  private rows: T[] = [];
  private filterText = '';
  private sortKey: string | undefined;
  private sortDir: 1 | -1 = 1;
  private selectedKey: string | undefined;
  private frame = 0;
  /** Prefix of the row element ids (aria-activedescendant). */
  private readonly idPrefix = `vt${++tablesMade}`;

  constructor(
    private readonly columns: Column<T>[],
    private readonly keyOf: (row: T) => string,
    private readonly matches: (row: T, filter: string) => boolean,
    private readonly onSelect: (row: T) => void,
    label: string,
  ) {
    this.gridTemplate = columns.map((c) => c.width).join(' ');
    const minWidth = `${columns.reduce((s, c) => s + c.minPx, 0) + columnGapPx * (columns.length - 1) + 2 * rowPaddingPx}px`;
    this.header = h('div', { className: 'vt-header', attrs: { role: 'row', 'aria-rowindex': '1' } });
    this.header.style.gridTemplateColumns = this.gridTemplate;
    this.header.style.minWidth = minWidth;
    for (const c of columns) {
      const b = h('button', { className: `vt-head${c.numeric ? ' num' : ''}`, text: c.title, attrs: { 'data-key': c.key, role: 'columnheader', type: 'button' } });
      b.addEventListener('click', () => this.setSort(c.key, this.sortKey === c.key ? (this.sortDir === 1 ? -1 : 1) : c.numeric ? -1 : 1));
      this.header.append(b);
    }
    // One scroll container for both axes: the header sticks to the top and scrolls sideways with the rows.
    this.spacer = h('div', { className: 'vt-body', attrs: { role: 'rowgroup' } });
    this.spacer.style.minWidth = minWidth;
    // The focusable viewport is the grid: the element holding the focus names the selected row.
    this.viewport = h('div', { className: 'vt-viewport', attrs: { tabindex: '0', role: 'grid', 'aria-label': label, 'aria-readonly': 'true' } }, [this.header, this.spacer]);
    this.viewport.addEventListener('scroll', () => this.schedule());
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
    this.element = h('div', { className: 'vt' }, [this.viewport]);
  }

  private readonly gridTemplate: string;

  /** Replaces all rows (keeps filter, sort and selection). */
  setRows(rows: T[]): void {
    this.all = rows;
    this.apply();
  }

  /** Re-sorts and re-renders after rows changed in place (e.g. stats arrived). */
  refresh(): void {
    this.apply();
  }

  /** Sets the filter text. */
  setFilter(text: string): void {
    this.filterText = text.trim().toLowerCase();
    this.apply();
  }

  /** Sets the sort column and direction. */
  setSort(key: string | undefined, dir: 1 | -1): void {
    this.sortKey = key;
    this.sortDir = dir;
    for (const b of this.header.querySelectorAll<HTMLButtonElement>('.vt-head')) {
      const on = b.dataset.key === key;
      b.classList.toggle('sorted', on);
      b.setAttribute('aria-sort', on ? (dir === 1 ? 'ascending' : 'descending') : 'none');
      b.dataset.dir = on ? (dir === 1 ? '▲' : '▼') : '';
    }
    this.apply();
    this.onSortChange?.(key, dir);
  }

  /** Called when the user changes the sort. */
  onSortChange: ((key: string | undefined, dir: 1 | -1) => void) | undefined;

  /** Marks a row as selected and scrolls it into view. */
  select(key: string | undefined, scroll = true): void {
    this.selectedKey = key;
    if (scroll && key !== undefined) {
      const i = this.rows.findIndex((r) => this.keyOf(r) === key);
      if (i >= 0) {
        const headerPx = this.header.offsetHeight;
        const top = i * rowHeightPx;
        const visibleTop = this.viewport.scrollTop;
        const visibleBottom = visibleTop + this.viewport.clientHeight - headerPx;
        if (top < visibleTop || top + rowHeightPx > visibleBottom) {
          this.viewport.scrollTop = Math.max(0, top - (this.viewport.clientHeight - headerPx) / 2);
        }
      }
    }
    this.render();
  }

  /** Rows after filtering and sorting, in display order. */
  visibleRows(): readonly T[] {
    return this.rows;
  }

  private apply(): void {
    const f = this.filterText;
    let rows = f ? this.all.filter((r) => this.matches(r, f)) : [...this.all];
    const col = this.columns.find((c) => c.key === this.sortKey);
    if (col) {
      const dir = this.sortDir;
      const decorated = rows.map((r, i) => ({ r, i, v: col.sortValue(r) }));
      decorated.sort((a, b) => {
        const av = a.v;
        const bv = b.v;
        const aMissing = av === null || av === undefined || (typeof av === 'number' && Number.isNaN(av));
        const bMissing = bv === null || bv === undefined || (typeof bv === 'number' && Number.isNaN(bv));
        if (aMissing || bMissing) {
          return aMissing === bMissing ? a.i - b.i : aMissing ? 1 : -1;
        }
        const c = typeof av === 'number' && typeof bv === 'number' ? av - bv : String(av).localeCompare(String(bv), 'en', { numeric: true });
        return c !== 0 ? c * dir : a.i - b.i;
      });
      rows = decorated.map((d) => d.r);
    }
    this.rows = rows;
    this.spacer.style.height = `${rows.length * rowHeightPx}px`;
    this.viewport.setAttribute('aria-rowcount', String(rows.length + 1)); // the header is row 1
    this.render();
  }

  private schedule(): void {
    if (this.frame) {
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    // Rows live in the body below the sticky header; scrollTop counts from the top of the header.
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / rowHeightPx) - overscanRows);
    const last = Math.min(this.rows.length, Math.ceil((this.viewport.scrollTop + height) / rowHeightPx) + overscanRows);
    const needed = last - first;
    while (this.pool.length < needed) {
      const rowEl = h('div', { className: 'vt-row', attrs: { role: 'row' } });
      rowEl.style.gridTemplateColumns = this.gridTemplate;
      for (const c of this.columns) {
        rowEl.append(h('div', { className: `vt-cell${c.numeric ? ' num' : ''}`, attrs: { role: 'gridcell' } }));
      }
      rowEl.addEventListener('click', () => {
        const key = rowEl.dataset.key;
        const row = this.rows.find((r) => this.keyOf(r) === key);
        if (row) {
          this.selectedKey = key;
          this.render();
          this.onSelect(row);
        }
      });
      this.pool.push(rowEl);
      this.spacer.append(rowEl);
    }
    let active: string | undefined;
    for (let p = 0; p < this.pool.length; p++) {
      const el = this.pool[p]!;
      const i = first + p;
      const row = i < last ? this.rows[i] : undefined;
      if (!row) {
        el.hidden = true;
        el.removeAttribute('id');
        continue;
      }
      el.hidden = false;
      const key = this.keyOf(row);
      el.dataset.key = key;
      el.id = `${this.idPrefix}-row-${i}`;
      el.setAttribute('aria-rowindex', String(i + 2));
      el.style.transform = `translateY(${i * rowHeightPx}px)`;
      el.classList.toggle('selected', key === this.selectedKey);
      el.setAttribute('aria-selected', key === this.selectedKey ? 'true' : 'false');
      if (key === this.selectedKey) {
        active = el.id;
      }
      const cells = el.children;
      this.columns.forEach((c, ci) => {
        const cell = cells[ci] as HTMLElement;
        cell.textContent = c.text(row);
        cell.className = `vt-cell${c.numeric ? ' num' : ''}${c.cellClass ? ` ${c.cellClass(row) ?? ''}` : ''}`;
        const tip = c.tooltip?.(row) ?? c.text(row);
        cell.title = tip;
      });
    }
    if (active) {
      this.viewport.setAttribute('aria-activedescendant', active);
    } else {
      this.viewport.removeAttribute('aria-activedescendant'); // no selection, or it is scrolled out of the rendered rows
    }
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') {
      return;
    }
    e.preventDefault();
    const i = this.rows.findIndex((r) => this.keyOf(r) === this.selectedKey);
    const next = this.rows[Math.min(this.rows.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next) {
      this.select(this.keyOf(next));
      this.onSelect(next);
    }
  }
}
