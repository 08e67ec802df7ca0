import { z } from 'zod';
import { internalRoute } from '@mindweave/service-kit';

// The contracts of accounts' internal routes (main.ts serves them): the router, the other
// subgraphs and the workers call them with these schemas (service-kit's callInternalRoute). This
// module imports zod and service-kit only, so that a caller loads nothing else of accounts.

export const memberRole = z.enum(['OWNER', 'ADMIN', 'MEMBER', 'VIEWER']);
export type MemberRole = z.infer<typeof memberRole>;
const membership = z.object({ organizationId: z.string(), role: memberRole });
export type Membership = z.infer<typeof membership>;

/** The router resolves an API key: 404 for an unknown, revoked or expired one. `expiresAt` is when the presented secret stops working. */
export const verifyApiKeyRoute = internalRoute(
  '/internal/api-keys/verify',
  z.object({ key: z.string() }),
  z.object({
    apiKeyId: z.string(),
    projectId: z.string(),
    organizationId: z.string(),
    scopes: z.array(z.string()),
    expiresAt: z.string().nullable(),
  }),
);

/** A user's memberships, deleted organizations left out (none for an id that is not a UUID). */
export const membershipsRoute = internalRoute(
  '/internal/memberships',
  z.object({ userId: z.string() }),
  z.object({ memberships: z.array(membership) }),
);

/** Many users' memberships at once (the router re-checking every subscriber): every asked UUID is a key of `byUser`. */
export const membershipsByUserRoute = internalRoute(
  '/internal/memberships/by-user',
  z.object({ userIds: z.array(z.string()).max(10_000) }),
  z.object({ byUser: z.record(z.string(), z.array(membership)) }),
);

/** An organization's plan and members (quota alerts, notices): 404 for an unknown or deleted one. */
export const organizationRoute = internalRoute(
  '/internal/organizations',
  z.object({ organizationId: z.string() }),
  z.object({ id: z.string(), name: z.string(), plan: z.string(), members: z.array(z.object({ userId: z.string(), role: memberRole })) }),
);
export type OrganizationInfo = z.infer<typeof organizationRoute.response>;

/** Organizations deleted before `before` whose usage data is still kept (the purge job; 500 at a time, oldest first). */
export const deletedOrganizationsRoute = internalRoute(
  '/internal/organizations/deleted',
  z.object({ before: z.string().refine((value) => !Number.isNaN(new Date(value).getTime()), 'an ISO date-time') }),
  z.object({ organizationIds: z.array(z.string()) }),
);

/** Marks organizations' usage data as purged; `marked` counts those that were not already. */
export const purgedOrganizationsRoute = internalRoute(
  '/internal/organizations/purged',
  z.object({ organizationIds: z.array(z.string()).max(500) }),
  z.object({ marked: z.number().int() }),
);
