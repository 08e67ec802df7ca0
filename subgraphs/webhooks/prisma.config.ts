import { defineConfig } from 'prisma/config';

// Only `prisma generate` uses this: migrations are plain SQL in ./migrations, applied at start-up.
export default defineConfig({ schema: './schema.prisma' });
