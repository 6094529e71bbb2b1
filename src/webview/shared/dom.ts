/**
 * Tiny DOM helpers. Text from files is always set through textContent, never as HTML.
 */

/** Attributes and text of a new element. */
export interface ElementOptions {
  /** class attribute. */
  className?: string;
  /** Text content (inserted as text). */
  text?: string;
  /** Other attributes. */
  attrs?: Record<string, string>;
  /** title attribute (tooltip), as text. */
  title?: string;
}

/** Creates an element with options and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions = {},
  children: (Node | string | undefined | false)[] = [],
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (options.className) {
    el.className = options.className;
  }
  if (options.text !== undefined) {
    el.textContent = options.text;
  }
  if (options.title !== undefined) {
    el.title = options.title;
  }
  for (const [k, v] of Object.entries(options.attrs ?? {})) {
    el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === false) {
      continue;
    }
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** Removes all children of an element. */
export function clear(el: Element): void {
  el.replaceChildren();
}

/** Reads a theme colour (a --vscode-* CSS variable) with a fallback. */
export function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/**
 * Calls `redraw` whenever the workbench theme changes, so charts (which copy theme colours when
 * drawn) take the new ones. A switch between themes of different kinds flips the body class
 * (vscode-light/dark/high-contrast); one between two themes of the same kind (Dark+ to Monokai)
 * changes only the --vscode-* variables in the root element's style and the body's
 * data-vscode-theme-id, so all three are observed.
 */
export function onThemeChange(redraw: () => void): MutationObserver {
  const observer = new MutationObserver(() => redraw());
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-id'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
  return observer;
}
