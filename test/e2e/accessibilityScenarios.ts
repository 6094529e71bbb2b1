/**
 * End-to-end scenario of keyboard use and screen-reader names in the weights panel: the tab list
 * follows the WAI-ARIA tabs pattern (one tab stop, arrow keys, Home/End), and moving the table's
 * selection with the arrow keys names the selected row through aria-activedescendant.
 */
import * as assert from 'node:assert/strict';
import { closeAllEditors, inspectFromExplorer, waitForWorkbench, type Scenario } from './workbench';

export const accessibilityScenarios: Scenario[] = [
  {
    name: 'weights panel keyboard: tabs move with the arrow keys, arrowing through the table names the selected row',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const { frame } = await inspectFromExplorer(page, ['duplicates', 'copy-a', 'model.json']);
      type Focusable = { id: string; getAttribute(name: string): string | null };
      const active = (): Promise<{ id: string; role: string | null }> =>
        frame.locator('body').evaluate((b: { ownerDocument: { activeElement: Focusable | null } }) => ({ id: b.ownerDocument.activeElement?.id ?? '', role: b.ownerDocument.activeElement?.getAttribute('role') ?? null }));
      const focused = async (): Promise<string> => (await active()).id;
      const tabs = await frame.locator('[role="tab"]').evaluateAll((els) => els.map((e) => ({ id: e.id, tabindex: e.getAttribute('tabindex'), selected: e.getAttribute('aria-selected') })));
      assert.ok(tabs.length >= 3, `${tabs.length} tabs`);
      assert.deepEqual(
        tabs.map((t) => t.tabindex),
        tabs.map((t) => (t.selected === 'true' ? '0' : '-1')),
        'only the selected tab is a tab stop',
      );
      const ids = tabs.map((t) => t.id);
      await frame.locator('#tab-tensors').click();
      await page.keyboard.press('ArrowRight');
      await frame.locator(`#${ids[1]}[aria-selected="true"][tabindex="0"]`).waitFor();
      assert.equal(await focused(), ids[1]);
      await page.keyboard.press('End');
      await frame.locator(`#${ids[ids.length - 1]}[aria-selected="true"]`).waitFor();
      await page.keyboard.press('ArrowRight'); // wraps around
      await frame.locator('#tab-tensors[aria-selected="true"]').waitFor();
      assert.equal(await focused(), 'tab-tensors');
      await page.keyboard.press('ArrowLeft');
      await frame.locator(`#${ids[ids.length - 1]}[aria-selected="true"]`).waitFor();
      await page.keyboard.press('Home');
      await frame.locator('#tab-tensors[aria-selected="true"]').waitFor();

      // The table: the focused grid names the selected row, which carries its index among all rows.
      const grid = frame.locator('#section-tensors .vt-viewport');
      assert.equal(await grid.getAttribute('role'), 'grid');
      await frame.locator('#section-tensors .vt-row').first().click();
      await page.keyboard.press('ArrowDown');
      const selected = frame.locator('#section-tensors .vt-row[aria-selected="true"]');
      await selected.waitFor();
      assert.equal(await selected.getAttribute('aria-rowindex'), '3', 'the second row (the header is row 1)');
      assert.equal(await grid.getAttribute('aria-activedescendant'), await selected.getAttribute('id'));
      assert.equal((await active()).role, 'grid', 'the grid keeps the focus');
      await closeAllEditors(page);
    },
  },
];
