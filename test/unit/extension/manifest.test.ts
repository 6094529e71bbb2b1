import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { weightFilePatterns } from '../../../src/formats/registry';
import { repoRoot } from '../helpers/fixtures';

interface Manifest {
  contributes: {
    customEditors: { viewType: string; priority: string; selector: { filenamePattern: string }[] }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, { default?: unknown }> };
  };
}

test('every weight file extension the readers take is offered by the extension: default editor, inspect and compare menus, Weights view globs', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;
  // The extensions of the first pattern, e.g. /\.(h5|hdf5|...)$/i.
  const extensions = /\\\.\(([\w|]+)\)\$/.exec(weightFilePatterns[0]!.source)?.[1]?.split('|') ?? [];
  assert.ok(extensions.includes('npy') && extensions.includes('h5'), extensions.join(','));
  const editor = manifest.contributes.customEditors.find((e) => e.priority === 'default')!;
  // Inspect and compare take any weight file (train and probe only models they can rebuild).
  const menus = manifest.contributes.menus['explorer/context']!.filter((m) => /\.(inspect|compare\w*|selectForCompare)$/.test(m.command) && m.when?.includes('resourceExtname =='));
  assert.ok(menus.length > 0);
  const globs = manifest.contributes.configuration.properties['weightscope.fileGlobs']!.default as string[];
  for (const ext of extensions) {
    assert.ok(editor.selector.some((s) => s.filenamePattern === `*.${ext}`), `.${ext} opens in the weights editor`);
    for (const m of menus) {
      assert.ok(m.when!.includes(`resourceExtname == .${ext} `), `.${ext} in the explorer menu of ${m.command}`);
    }
    assert.ok(globs.some((g) => new RegExp(`[{,]${ext}[,}]`).test(g)), `.${ext} in the default fileGlobs`);
  }
});

test('virtual workspaces are declared as limited, and the explorer offers the commands that need local files only on local files', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest & {
    capabilities?: { virtualWorkspaces?: { supported?: unknown; description?: unknown } };
  };
  const virtual = manifest.capabilities?.virtualWorkspaces;
  assert.equal(virtual?.supported, 'limited');
  assert.ok(typeof virtual.description === 'string' && /train/i.test(virtual.description) && /local file system/.test(virtual.description), String(virtual?.description));
  // Training, probes, comparisons and history read the files with Node's fs (or git): not offered on other file
  // systems. A remote window's (SSH, WSL, containers) files are on the extension host's disk: the explorer's
  // resourceScheme there is vscode-remote, while the extension sees file URIs.
  const localOnly = /\.(trainModel|probeGradients|compare\w*|selectForCompare|showHistory)$/;
  const menus = manifest.contributes.menus['explorer/context']!.filter((m) => localOnly.test(m.command));
  assert.equal(menus.length, 9, menus.map((m) => m.command).join(', '));
  for (const m of menus) {
    assert.ok(m.when?.startsWith('resourceScheme =~ /^(file|vscode-remote)$/ && '), `${m.command}: ${m.when}`);
  }
  // The Weights view marks files of other file systems 'weightscope.virtualFile' (weightsTree.ts): its
  // comparison items (the explorer's, HEAD and the previous commit included) are offered on local files
  // only, while inspect, export, reveal and copy serve both.
  const offeredOn = (when: string, contextValue: string): boolean => {
    const exact = /viewItem == ([\w.]+)/.exec(when);
    const pattern = /viewItem =~ \/(.+?)\/(?= |$)/.exec(when);
    assert.ok(exact || pattern, when);
    return exact ? exact[1] === contextValue : new RegExp(pattern![1]!).test(contextValue);
  };
  const items = manifest.contributes.menus['view/item/context']!;
  const fileItems = items.filter((m) => offeredOn(m.when!, 'weightscope.file'));
  assert.deepEqual(
    [...new Set(fileItems.map((m) => m.command.replace('weightscope.', '')))].sort(),
    ['compareWith', 'compareWithHead', 'compareWithPrevious', 'compareWithSelected', 'copyName', 'exportReport', 'inspect', 'revealInExplorer', 'selectForCompare'],
  );
  for (const m of fileItems) {
    assert.equal(offeredOn(m.when!, 'weightscope.virtualFile'), !localOnly.test(m.command), `${m.command} on a file of another file system: ${m.when}`);
  }
});
