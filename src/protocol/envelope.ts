/**
 * The envelopes every host<->webview message travels in: requests the webview sends and the host
 * answers (with a result or an error), and notifications either side sends without a reply.
 */

/** A failure carried back to the caller of a request. */
export interface ErrorDto {
  /** WeightFileError reason, or 'internal' for a bug, or 'badRequest' for an invalid message. */
  reason: string;
  /** One-sentence message for the user. */
  message: string;
}

/** A map of request method -> its parameters and result (use as `R extends RequestMap<R>`). */
export type RequestMap<R> = { [M in keyof R]: { params: unknown; result: unknown } };

/** A request from the webview: `id` pairs it with its response. */
export type RequestEnvelope<R extends RequestMap<R>> = {
  [M in keyof R & string]: {
    /** Discriminant. */
    kind: 'request';
    /** Unique per webview session. */
    id: number;
    /** Method name. */
    method: M;
    /** Parameters of the method. */
    params: R[M]['params'];
  };
}[keyof R & string];

/** The host's answer to one request: a result, or an error that rejects the webview's promise. */
export type ResponseEnvelope =
  | {
      /** Discriminant. */
      kind: 'response';
      /** Id of the request answered. */
      id: number;
      /** Success. */
      ok: true;
      /** The method's result. */
      result: unknown;
    }
  | {
      /** Discriminant. */
      kind: 'response';
      /** Id of the request answered. */
      id: number;
      /** Failure. */
      ok: false;
      /** Why it failed. */
      error: ErrorDto;
    };

/** A message without a reply. `T` is a union of `{ type: ... }` payloads. */
export interface NotificationEnvelope<T> {
  /** Discriminant. */
  kind: 'notification';
  /** The payload. */
  body: T;
}
