export { registerUpdraft, type Updraft, type PendingUpdate } from './register.js';
export type { RegisterOptions } from './options.js';
export type { UpdraftEventName, UpdraftEventOf, UpdraftEventHandler } from './events.js';
export type { UpdraftEvent, CheckNowReply, HelloReply, ReadyReply } from '../protocol/messages.js';
export { UpdraftError, type ErrorCode } from '../protocol/errors.js';
// The `policy` of `update-ready` and `activated`: named here so a page need not import the protocol for it.
export type { ActivationPolicy } from '../protocol/plan.js';
