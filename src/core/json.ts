/**
 * JSON from weight files. Real configs nest a few dozen levels; a file nesting thousands parses
 * (V8's JSON.parse does not recurse on the stack) but then overflows the stack of every recursive
 * walk and of JSON.stringify downstream. parseFileJson refuses such text up front, with the same
 * kind of error as a syntax error, so every reader's existing handling of bad JSON applies.
 */

/** Deepest nesting of arrays and objects accepted in a file's JSON. */
export const maxJsonDepth = 512;

/** The deepest nesting of arrays and objects in JSON text (brackets inside strings ignored). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) {
        i++;
      } else if (c === 0x22 /* " */) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return deepest;
}

/** JSON.parse for text read from a file; a SyntaxError also when it nests deeper than maxJsonDepth. */
export function parseFileJson(text: string): unknown {
  const depth = jsonDepth(text);
  if (depth > maxJsonDepth) {
    throw new SyntaxError(`nested ${depth} levels deep, more than the ${maxJsonDepth} accepted`);
  }
  return JSON.parse(text) as unknown;
}
