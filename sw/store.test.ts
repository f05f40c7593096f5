import { MemoryStore } from './memory-store.js';
import { describeStore } from './store-contract.js';

describeStore('memory', async () => new MemoryStore());
