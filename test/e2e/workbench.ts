/**
 * Page helpers for driving the VS Code workbench (code-server) with Playwright: explorer rows,
 * context menus, the command palette, the Weightscope view and webview frames.
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';

/** What the runner gives each scenario. */
export interface ScenarioContext {
  /** A fresh page. */
  page: Page;
  /** Absolute path of this scenario's own workspace folder (fixtures/ and broken/ inside). */
  workspace: string;
  /** Folder for screenshots. */
  artifactsDir: string;
  /** The user settings file of the workbench (rewritten to baseSettings after each scenario). */
  settingsFile: string;
  /** Settings the run starts with. */
  baseSettings: Record<string, unknown>;
  /** Writes the user settings (base + extra) and loads the workbench on `workspace` with the extension under development. */
  openWorkbench(extraSettings?: Record<string, unknown>): Promise<unknown>;
  /** Progress output. */
  log(message: string): void;
}

/** One end-to-end scenario. */
export interface Scenario {
  /** Name shown in the output. */
  name: string;
  /** True when the scenario uses ../shared/fixtures (skipped with the reason when absent). */
  needsFixtures: boolean;
  /** Runs it; throws on failure. */
  run(ctx: ScenarioContext): Promise<void>;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Waits until the workbench shows the explorer and the Weightscope activity-bar entry. */
export async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
  await weightscopeActivityIcon(page).waitFor({ timeout: 60_000 });
}

/** The Weightscope icon in the activity bar (present once the contributions are registered). */
export function weightscopeActivityIcon(page: Page): Locator {
  return page.locator('.activitybar a.action-label[aria-label^="Weightscope"]');
}

/** The explorer row whose label is exactly `name`. */
export function explorerRow(page: Page, name: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) }).first();
}

/** The explorer row of the file or folder at `absolutePath` (its label carries the path): exact where names repeat. */
export function explorerRowAt(page: Page, absolutePath: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator(`.monaco-icon-label[aria-label=${JSON.stringify(absolutePath)}]`) });
}

/** Expands explorer folders along `segments` (relative to the workspace root) and returns the last row. */
export async function revealInExplorer(page: Page, segments: string[]): Promise<Locator> {
  let row: Locator | undefined;
  for (const [i, seg] of segments.entries()) {
    row = explorerRow(page, seg);
    await row.waitFor();
    await row.scrollIntoViewIfNeeded();
    if (i < segments.length - 1 && (await row.getAttribute('aria-expanded')) === 'false') {
      await row.click();
      // Browser-side code is passed as text: the Node tsconfig has no DOM types.
      await page.waitForFunction(
        `[...document.querySelectorAll('.explorer-folders-view .monaco-list-row')].some((r) => r.querySelector('.label-name')?.textContent === ${JSON.stringify(seg)} && r.getAttribute('aria-expanded') === 'true')`,
      );
    }
  }
  return row!;
}

/** Opens the context menu of a row and returns the menu's item titles. */
export async function contextMenuItems(page: Page, row: Locator): Promise<string[]> {
  await row.click({ button: 'right' });
  const menu = page.locator('.monaco-menu .action-item .action-label').filter({ visible: true });
  await menu.first().waitFor();
  return (await menu.allTextContents()).map((t) => t.trim()).filter((t) => t !== '');
}

/**
 * The items of `row`'s context menu once it holds `item`, the menu closed again: a menu opened
 * right after a click or the extension's first scan can still be built from the context keys of
 * before (the selection, the extension's folder lists).
 */
export async function menuWith(page: Page, row: Locator, item: string): Promise<string[]> {
  let items: string[] = [];
  for (let attempt = 0; attempt < 20 && !items.includes(item); attempt++) {
    items = await contextMenuItems(page, row);
    await page.keyboard.press('Escape');
    if (!items.includes(item)) {
      await page.waitForTimeout(500);
    }
  }
  return items;
}

/** Clicks the item `title` of the open context menu. */
export async function clickMenuItem(page: Page, title: string): Promise<void> {
  const item = page
    .locator('.monaco-menu .action-item .action-label', { hasText: new RegExp(`^${escapeRegExp(title)}$`) })
    .filter({ visible: true })
    .first();
  await item.click();
  // A click that lands while the menu is still settling is dropped and leaves the menu open (item
  // highlighted): run the highlighted item with Enter instead, once the menu has had time to close.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await item.waitFor({ state: 'hidden', timeout: 2000 });
      return;
    } catch {
      await item.hover();
      await page.keyboard.press('Enter');
    }
  }
  await item.waitFor({ state: 'hidden', timeout: 2000 });
}

/** Runs a palette command by its full title ("Weightscope: Inspect Weights"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    try {
      await input.waitFor({ timeout: 3000 });
    } catch {
      // F1 does not reach the workbench while a webview (or a closed webview's frame) holds the focus:
      // click the empty part of the side bar's list first.
      const list = page.locator('.part.sidebar .monaco-list').first();
      const box = await list.boundingBox();
      if (box) {
        await page.mouse.click(box.x + box.width / 2, box.y + box.height - 8);
      }
      await page.keyboard.press('F1');
      await input.waitFor();
    }
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ timeout: 4000 });
      // Click the row itself: Enter would run whichever row ranks first (e.g. a "Browse ... in Marketplace" entry).
      await row.click();
      return;
    } catch {
      // The palette computes its list when it opens; reopen once the contributions are in.
      await page.keyboard.press('Escape');
    }
  }
  throw new Error(`command '${title}' not found in the palette`);
}

/**
 * Reloads the window through Developer: Reload Window, as a user does: the workbench shuts down
 * first and saves its editors and webview states, so that they come back (a bare page reload may
 * cut the save short). Resolves once the new page has loaded.
 */
export async function reloadWindow(page: Page): Promise<void> {
  const loaded = page.waitForEvent('load', { timeout: 90_000 });
  await runCommand(page, 'Developer: Reload Window');
  await loaded;
}

/** The content frame of the visible webview (panel or custom editor). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
}

/** Switches the color theme through the palette (Preferences: Color Theme), as a user does. */
export async function setTheme(ctx: ScenarioContext, theme: string): Promise<void> {
  const { page } = ctx;
  await runCommand(page, 'Preferences: Color Theme');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor();
  await input.fill(theme);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: theme }).first();
  await row.waitFor();
  await row.click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/** Saves a screenshot of the whole workbench into the artifacts folder. */
export async function screenshot(ctx: ScenarioContext, name: string, settleMs = 300): Promise<void> {
  const path = await import('node:path');
  await ctx.page.waitForTimeout(settleMs);
  await ctx.page.screenshot({ path: path.join(ctx.artifactsDir, `${name}.png`) });
}

/** Closes every editor (the next page of the same folder would restore them otherwise). */
export async function closeAllEditors(page: Page): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
}

/** Pixels with non-zero alpha on a canvas in a webview frame (0 while nothing is drawn). */
export async function canvasPaintedPixels(frame: FrameLocator, selector: string): Promise<number> {
  type Canvas2d = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null };
  return frame.locator(selector).evaluate((el) => {
    const c = el as unknown as Canvas2d;
    const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
    let n = 0;
    for (let i = 3; i < d.length; i += 4) {
      if (d[i]! > 0) {
        n++;
      }
    }
    return n;
  });
}

/** Waits for the open quick pick's row containing `text` and clicks it (Enter would run the top-ranked row). */
export async function pickQuickItem(page: Page, text: string | RegExp): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
  await row.waitFor();
  await row.click();
}

/**
 * Types `target` (an absolute path) into code-server's file dialog (a quick input with a path box)
 * and accepts it. The dialog fills in its starting folder asynchronously and can overwrite a value
 * typed too early: the path is typed again until it stays.
 */
export async function chooseInFileDialog(page: Page, target: string): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor();
  const base = target.split('/').pop() ?? target;
  for (let attempt = 1; ; attempt++) {
    await page.waitForTimeout(300);
    await input.fill(target);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: base }).first().waitFor();
    await page.waitForTimeout(500);
    if ((await input.inputValue()) === target) {
      break;
    }
    if (attempt >= 5) {
      throw new Error(`the file dialog kept replacing the typed path (now '${await input.inputValue()}')`);
    }
  }
  await page.keyboard.press('Enter');
}

/**
 * Answers Train Model's number prompts after its quick picks: the default learning rate, `epochs`
 * epochs, and the defaults for batch size, validation split and regularization.
 */
export async function answerTrainingPrompts(page: Page, epochs: number): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await page.locator('.quick-input-widget', { hasText: 'Learning rate' }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget', { hasText: 'Epochs' }).first().waitFor();
  await input.fill(String(epochs));
  await page.keyboard.press('Enter');
  for (const prompt of ['Batch size', 'Validation split', 'Regularization']) {
    await page.locator('.quick-input-widget', { hasText: prompt }).first().waitFor();
    await page.keyboard.press('Enter');
  }
}

/** The colours painted most on a canvas in a webview frame ("r,g,b" of opaque pixels, most first; empty while nothing is drawn). */
export async function canvasColours(frame: FrameLocator, selector: string, most = 12): Promise<string[]> {
  type Canvas2d = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null };
  return frame.locator(selector).evaluate((el, n) => {
    const c = el as unknown as Canvas2d;
    const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
    const counts = new Map<string, number>();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] === 255) {
        const key = `${d[i]},${d[i + 1]},${d[i + 2]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return [...counts].sort((x, y) => y[1] - x[1]).slice(0, n).map(([k]) => k);
  }, most);
}

/**
 * Opens a workspace file (path segments from the workspace folder) in the weights panel through
 * the explorer's Inspect Weights, waits until its statistics are done, and returns its explorer
 * row and the panel's frame.
 */
export async function inspectFromExplorer(page: Page, segments: string[]): Promise<{ row: Locator; frame: FrameLocator }> {
  const row = await revealInExplorer(page, segments);
  await contextMenuItems(page, row); // right-click only: a click would open the default (custom) editor
  await clickMenuItem(page, 'Inspect Weights');
  const frame = webviewFrame(page);
  await frame.locator('body[data-analysis="done"]').waitFor({ timeout: 60_000 });
  return { row, frame };
}
