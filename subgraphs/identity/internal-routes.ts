import { z } from 'zod';
import { internalRoute } from '@mindweave/service-kit';

// The contract of identity's internal route (main.ts serves it), for its callers (the workers,
// accounts). Imports zod and service-kit only.

/** Users' addresses, for emails: ids that are not UUIDs or not users are left out; 500 at most. */
export const usersRoute = internalRoute(
  '/internal/users',
  z.object({ ids: z.array(z.string()) }),
  z.object({ users: z.array(z.object({ id: z.string(), email: z.string(), name: z.string() })) }),
);
export type UserInfo = z.infer<typeof usersRoute.response>['users'][number];
