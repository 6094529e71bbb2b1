/**
 * The host side of a webview's typed protocol: validates incoming messages, dispatches requests to
 * a handler table (a missing handler is a compile error), answers each with a result or an
 * ErrorDto (so the webview's promise never hangs), and posts notifications.
 */
import type * as vscode from 'vscode';
import { summarizeError } from '../core/errors';
import type { NotificationEnvelope, RequestMap, ResponseEnvelope } from '../protocol/envelope';
import { Disposable } from './dispose';
import { logFailure } from './log';

/** One handler per request method. */
export type RequestHandlers<R extends RequestMap<R>> = {
  [M in keyof R & string]: (params: R[M]['params']) => Promise<R[M]['result']>;
};

/** Typed messaging with one webview. */
export class HostMessenger<R extends RequestMap<R>, N, E extends { type: string }> extends Disposable {
  constructor(
    private readonly webview: vscode.Webview,
    private readonly handlers: RequestHandlers<R>,
    private readonly onEvent: (event: E) => void,
    private readonly eventTypes: readonly E['type'][],
  ) {
    super();
    this.register(webview.onDidReceiveMessage((m: unknown) => void this.receive(m)));
  }

  /** Posts a notification; false when the webview is gone. */
  notify(body: N): Thenable<boolean> {
    const envelope: NotificationEnvelope<N> = { kind: 'notification', body };
    return this.isDisposed ? Promise.resolve(false) : this.webview.postMessage(envelope);
  }

  private async receive(message: unknown): Promise<void> {
    if (typeof message !== 'object' || message === null) {
      return;
    }
    const m = message as Record<string, unknown>;
    if (m.kind === 'notification') {
      const body = m.body as { type?: unknown } | undefined;
      if (body && typeof body.type === 'string' && (this.eventTypes as readonly string[]).includes(body.type)) {
        try {
          this.onEvent(body as E);
        } catch (ex) {
          logFailure(`webview event '${body.type}'`, ex); // logged, not an unhandled rejection of receive()
        }
      }
      return;
    }
    if (m.kind !== 'request' || typeof m.id !== 'number') {
      return;
    }
    const id = m.id;
    const method = m.method;
    const params = m.params;
    let response: ResponseEnvelope;
    if (typeof method !== 'string' || !Object.prototype.hasOwnProperty.call(this.handlers, method) || typeof params !== 'object' || params === null) {
      response = { kind: 'response', id, ok: false, error: { reason: 'badRequest', message: `Unknown request '${String(method)}'.` } };
    } else {
      try {
        const handler = this.handlers[method as keyof R & string] as (p: unknown) => Promise<unknown>;
        response = { kind: 'response', id, ok: true, result: await handler(params) };
      } catch (ex) {
        logFailure(`webview request '${method}'`, ex);
        response = { kind: 'response', id, ok: false, error: summarizeError(ex) };
      }
    }
    if (!this.isDisposed) {
      await this.webview.postMessage(response);
    }
  }
}
