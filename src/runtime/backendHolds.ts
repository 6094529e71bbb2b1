/**
 * TF.js has one backend per process, set globally. Jobs that run side by side in one thread (the
 * extension's TF.js worker, tfWorker.ts) each hold the backend they compute on, and a job makes
 * another backend TF.js's only through its hold (BackendHold.use), which waits until no other job
 * holds a different one. Switching under a running job would move its tensors to a backend it did
 * not choose, which may lack a kernel it needs ("Kernel 'X' not registered for backend 'wasm'") and
 * which its report would not name. Jobs switch once, before they compute (ensureGradientBackend,
 * runExperiment), so a job that waits holds nothing, and waits never go round in a circle.
 */
import { throwIfAborted, WeightFileError } from '../core/errors';

/** What a hold needs of TF.js. */
export interface BackendSwitch {
  getBackend(): string;
  setBackend(name: string): Promise<boolean>;
}

interface Waiter {
  hold: BackendHold;
  name: string;
  resolve: () => void;
}

/** The holds of the jobs of one thread. */
export class BackendHolds {
  private readonly holds = new Set<BackendHold>();
  /** Holds waiting to switch, in arrival order: one that comes later waits behind them. */
  private readonly waiting: Waiter[] = [];

  /**
   * A hold for a job, holding nothing yet; `onWait` is told which backend it waits for (the other
   * jobs'), `onResume` that a wait has ended and the job goes on. Close it when the job ends.
   */
  open(onWait?: (heldBackend: string) => void, onResume?: () => void): BackendHold {
    const hold = new BackendHold(this, onWait, onResume);
    this.holds.add(hold);
    return hold;
  }

  /** Backends held, one entry per hold that holds one (tests and logs). */
  held(): string[] {
    return [...this.holds].flatMap((h) => (h.backend === undefined ? [] : [h.backend]));
  }

  /** @internal BackendHold.use: `hold` holds `backend` after all (the one it asked for failed); jobs waiting for that one may go. */
  holdInstead(hold: BackendHold, backend: string): void {
    hold.backend = backend;
    this.grant();
  }

  /** @internal BackendHold.close. */
  remove(hold: BackendHold): void {
    this.holds.delete(hold);
    this.dropWaiter(hold);
    this.grant();
  }

  /** @internal BackendHold.use: resolves once `hold` may make `name` the backend (it then holds it); true when it had to wait. */
  async wait(hold: BackendHold, name: string, signal: AbortSignal | undefined, onWait: ((held: string) => void) | undefined): Promise<boolean> {
    throwIfAborted(signal);
    hold.backend = undefined; // what it held is let go while it waits: the others may go first
    this.grant();
    if (this.waiting.length === 0 && this.otherBackend(hold, name) === undefined) {
      hold.backend = name;
      return false;
    }
    // Behind the jobs already waiting, even when it could go now: else they could wait forever.
    const blocker = this.otherBackend(hold, name) ?? this.waiting[0]!.name;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.dropWaiter(hold);
        this.grant();
        reject(new WeightFileError('cancelled', 'The operation was cancelled.'));
      };
      this.waiting.push({
        hold,
        name,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      onWait?.(blocker);
    });
    return true;
  }

  /** A backend another hold than `hold` holds that is not `name`, else undefined. */
  private otherBackend(hold: BackendHold, name: string): string | undefined {
    for (const h of this.holds) {
      if (h !== hold && h.backend !== undefined && h.backend !== name) {
        return h.backend;
      }
    }
    return undefined;
  }

  /** Lets the waiting holds go, first come first, as long as nobody else holds another backend. */
  private grant(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0]!;
      if (this.otherBackend(w.hold, w.name) !== undefined) {
        return;
      }
      this.waiting.shift();
      w.hold.backend = w.name; // held from now, so that the waiters behind it see it
      w.resolve();
    }
  }

  private dropWaiter(hold: BackendHold): void {
    const i = this.waiting.findIndex((w) => w.hold === hold);
    if (i >= 0) {
      this.waiting.splice(i, 1);
    }
  }
}

/** One job's hold on the backend (BackendHolds.open). */
export class BackendHold {
  /** The backend the job computes on; undefined before its first `use` and while it waits. */
  backend: string | undefined;

  constructor(
    private readonly holds: BackendHolds,
    private readonly onWait: ((heldBackend: string) => void) | undefined,
    private readonly onResume: (() => void) | undefined = undefined,
  ) {}

  /**
   * Makes `name` TF.js's backend for this job, after every other job holding another backend has
   * ended (the job holds nothing meanwhile; `onResume` is told when such a wait ends); rejects with
   * `cancelled` when `signal` aborts first.
   * Resolves with setBackend's answer: false when `name` could not be initialized (TF.js then keeps
   * the backend it had, which the job holds instead).
   */
  async use(tf: BackendSwitch, name: string, signal?: AbortSignal): Promise<boolean> {
    if (this.backend === name && tf.getBackend() === name) {
      return true;
    }
    if (await this.holds.wait(this, name, signal, this.onWait)) {
      this.onResume?.();
    }
    if (tf.getBackend() === name) {
      return true;
    }
    const ok = await tf.setBackend(name);
    if (!ok) {
      this.holds.holdInstead(this, tf.getBackend());
    }
    return ok;
  }

  /** The job has ended: jobs waiting for it may switch. */
  close(): void {
    this.holds.remove(this);
  }
}

/**
 * Makes `name` TF.js's backend: through `hold` when the job has one (jobs side by side), else at
 * once (a process that runs one job, as the CLI does).
 */
export async function useBackend(tf: BackendSwitch, name: string, hold: BackendHold | undefined, signal?: AbortSignal): Promise<boolean> {
  if (hold) {
    return hold.use(tf, name, signal);
  }
  return tf.getBackend() === name || tf.setBackend(name);
}
