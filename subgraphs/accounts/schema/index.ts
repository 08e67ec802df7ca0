import { builder } from '../builder.ts';
import './membership.ts';
import './user.ts';
import './organization.ts';
import './project.ts';
import './api-key.ts';
import './invitation.ts';
import './audit-entry.ts';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
