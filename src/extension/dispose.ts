/**
 * Disposable helpers: a base class that owns what it registers, so every listener, emitter and
 * registration is released with its owner.
 */
import type * as vscode from 'vscode';

/** Disposes every item, ignoring none: the first error is rethrown after all ran. */
export function disposeAll(items: Iterable<vscode.Disposable>): void {
  let first: unknown;
  for (const d of items) {
    try {
      d.dispose();
    } catch (ex) {
      first ??= ex;
    }
  }
  if (first !== undefined) {
    throw first;
  }
}

/** A class that owns disposables and releases them on dispose(). */
export abstract class Disposable implements vscode.Disposable {
  private readonly owned: vscode.Disposable[] = [];
  private disposedFlag = false;

  /** True once dispose() ran. */
  protected get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** Takes ownership of `value`; disposes it at once when this object is already disposed. */
  protected register<T extends vscode.Disposable>(value: T): T {
    if (this.disposedFlag) {
      value.dispose();
    } else {
      this.owned.push(value);
    }
    return value;
  }

  dispose(): void {
    if (this.disposedFlag) {
      return;
    }
    this.disposedFlag = true;
    disposeAll(this.owned.splice(0).reverse());
  }
}
