import { builder } from '../builder.ts';
import './organization.ts';
import './policy.ts';
import './audit-entry.ts';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
