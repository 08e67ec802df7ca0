import { builder } from '../builder.ts';
import './user.ts';
import './auth.ts';
import './mfa.ts';
import './recovery.ts';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
