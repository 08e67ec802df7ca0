import { z } from 'zod';
import { policyTypes } from '@mindweave/policy-engine';
import { internalRoute } from '@mindweave/service-kit';

// The contract of governance's internal route (main.ts serves it), for the usage subgraph's policy
// cache. Imports zod, the policy engine and service-kit only.

/** An organization's policies, disabled ones too, as the policy engine's PolicyRecord; BAD_USER_INPUT for an id that is not a UUID. */
export const policiesRoute = internalRoute(
  '/internal/policies',
  z.object({ organizationId: z.string() }),
  z.object({
    policies: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        type: z.enum(policyTypes),
        rules: z.unknown(),
        enabled: z.boolean(),
        enforcing: z.boolean(),
      }),
    ),
  }),
);
