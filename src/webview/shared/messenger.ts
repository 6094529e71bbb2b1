/**
 * The webview side of the typed protocol: requests return promises that resolve with the host's
 * result or reject with its ErrorDto; notifications go to one listener.
 */
import type { ErrorDto, NotificationEnvelope, RequestMap, ResponseEnvelope } from '../../protocol/envelope';
import { vscodeApi } from './vscodeApi';

/** A failed request: carries the host's reason. */
export class RequestError extends Error {
  constructor(readonly error: ErrorDto) {
    super(error.message);
  }
}

/** Typed messaging with the extension host. */
export class WebviewMessenger<R extends RequestMap<R>, N, E> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(onNotification: (n: N) => void) {
    window.addEventListener('message', (ev: MessageEvent<unknown>) => {
      const m = ev.data as Partial<ResponseEnvelope> & Partial<NotificationEnvelope<N>>;
      if (!m || typeof m !== 'object') {
        return;
      }
      if (m.kind === 'response' && typeof m.id === 'number') {
        const p = this.pending.get(m.id);
        if (!p) {
          return;
        }
        this.pending.delete(m.id);
        const r = m as ResponseEnvelope;
        if (r.ok) {
          p.resolve(r.result);
        } else {
          p.reject(new RequestError(r.error));
        }
      } else if (m.kind === 'notification' && m.body !== undefined) {
        onNotification(m.body);
      }
    });
  }

  /** Sends a request; resolves with its result, rejects with a RequestError. */
  request<M extends keyof R & string>(method: M, params: R[M]['params']): Promise<R[M]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      vscodeApi().postMessage({ kind: 'request', id, method, params });
    });
  }

  /** Sends a notification. */
  notify(body: E): void {
    vscodeApi().postMessage({ kind: 'notification', body });
  }
}
