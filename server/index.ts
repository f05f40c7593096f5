export { createUpdateServer, deltaQueueOf } from './app.js';
export type { DeltaQueue } from './delta-queue.js';
export type { UpdateServerOptions, ResolvedOptions } from './options.js';
export { SCOPES, generateToken, hashToken, parseScopes, parseTokenFile, type Scope, type StoredToken, type ConfigToken, type Principal } from './admin-token.js';
export { AdminTokens } from './admin-auth.js';
export { headersFor, securityHeaders, type SecurityHeadersOptions, type Surface } from './security-headers.js';
export { startServer, type StartServerOptions, type RunningServer } from './node.js';
export type { Store, StoredRelease, ClientRecord, InsertReleaseResult, ChannelChange, ChannelActivation, ReleaseHealth } from './store.js';
export { autoPause, pauseReason, type AutoPauseOptions } from './auto-pause.js';
export { SqliteStore, openSqliteStore } from './sqlite-store.js';
export { PostgresStore, openPostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { openStore } from './open-store.js';
export { BlobStore, type WrittenBlob } from './blob-store.js';
export {
  decide, targetFor, chooseTarget, dropsHeld, fallbackRelease, planTemplate, personalize,
  type Decision, type PlannerInput, type PlannerOptions, type KnownRelease, type ReleaseSeqs, type PlanTemplate, type Personal,
} from './planner.js';
export { CheckInCache, type CheckInCacheOptions } from './check-in-cache.js';
export { WriteBehindStore, writeBehind, type WriteBehindOptions } from './write-behind-store.js';
export { planSlots, type SlotPlan, type SlotPlanInput, type SlotRequest } from './slot-planner.js';
export {
  MemorySlotLedger, isSharedSlotLedger, type Budget, type Charge, type Reservation, type SharedSlotLedger, type SlotBooking, type SlotLedger, type SlotLedgerView, type Slots,
} from './slot-ledger.js';
export { PostgresSlotLedger, type PostgresSlotLedgerOptions } from './postgres-slot-ledger.js';
export { rolloutBucket, spreadOffset } from './rollout-bucket.js';
export { onError } from './errors.js';
export { fakeDist, writeDist, type FakeDist, type FakeDistOptions } from './fake-dist.js';
export { publishDirectory, type PublishOptions, type PublishProgress, type PublishResult } from './publish.js';
export { AdminClient, CliError } from './admin-client.js';
export { createPlanSigner, generateSigningKey, loadSigningKey, type PlanSigner, type SigningKey } from './plan-signer.js';
export { generateKeyFiles, signerFromFiles, type GeneratedKeyFiles } from './keys-command.js';
