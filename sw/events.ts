/** Broadcasts `UpdraftEvent`s to every window client (`SwEventMessage`). */
import type { SwEventMessage, UpdraftEvent } from '../protocol/index.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';

export async function broadcast(ctx: SwContext, event: UpdraftEvent): Promise<void> {
  const message: SwEventMessage = { type: 'updraft:event', event };
  try {
    const clients = await ctx.adapter.windows();
    await Promise.all(clients.map((c) => ctx.adapter.postMessage(c.id, message)));
  } catch (e) {
    // Telling pages is best effort: it never fails the work it reports on.
    ctx.log.warn(`broadcast ${event.name} failed: ${describeError(e)}`);
  }
}
