import { inject } from 'vitest';

// Integration tests import services' modules in-process; point their env at the test stack.
const stack = inject('stack');
Object.assign(process.env, stack.env, { NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_KEY_PREFIX: stack.env['REDIS_KEY_PREFIX'] ?? '' });
