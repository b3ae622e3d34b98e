import { afterAll } from 'vitest';
import { removeScratchDirs } from './scratch.ts';

// Registered before any test file's own hooks, so it runs after them (vitest runs after-hooks as a stack).
afterAll(removeScratchDirs);
