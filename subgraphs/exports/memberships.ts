import { createMembershipDirectory } from '@mindweave/accounts/membership-directory';
import { env } from './env.ts';

export const memberships = createMembershipDirectory({
  accountsUrl: env.ACCOUNTS_INTERNAL_URL,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  service: 'exports',
});
