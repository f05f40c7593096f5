import type { UpdraftEvent } from '../protocol/messages.js';

export type UpdraftEventName = UpdraftEvent['name'];
export type UpdraftEventOf<N extends UpdraftEventName> = Extract<UpdraftEvent, { name: N }>;
export type UpdraftEventHandler<N extends UpdraftEventName> = (event: UpdraftEventOf<N>) => void;

export interface Emitter {
  /** Subscribes; the returned function unsubscribes. */
  on<N extends UpdraftEventName>(name: N, handler: UpdraftEventHandler<N>): () => void;
  emit(event: UpdraftEvent): void;
}

/** A typed emitter keyed by event name. A throwing handler is reported and does not stop the others. */
export function createEmitter(report: (error: unknown) => void = defaultReport): Emitter {
  const handlers = new Map<UpdraftEventName, Set<(event: UpdraftEvent) => void>>();
  return {
    on(name, handler) {
      const wrapped = handler as (event: UpdraftEvent) => void;
      let set = handlers.get(name);
      if (!set) handlers.set(name, (set = new Set()));
      set.add(wrapped);
      return () => void set.delete(wrapped);
    },
    emit(event) {
      // Copy: a handler may unsubscribe itself (or others) while we iterate.
      for (const handler of [...(handlers.get(event.name) ?? [])]) {
        try {
          handler(event);
        } catch (error) {
          report(error);
        }
      }
    },
  };
}

function defaultReport(error: unknown): void {
  if (typeof reportError === 'function') reportError(error);
  else console.error(error);
}

/** Narrows a `message` event's data to an Updraft event broadcast by the SW. */
export function eventFromMessage(data: unknown): UpdraftEvent | null {
  if (typeof data !== 'object' || data === null) return null;
  const message = data as { type?: unknown; event?: unknown };
  if (message.type !== 'updraft:event' || typeof message.event !== 'object' || message.event === null) return null;
  const event = message.event as { name?: unknown };
  return typeof event.name === 'string' ? (message.event as UpdraftEvent) : null;
}
