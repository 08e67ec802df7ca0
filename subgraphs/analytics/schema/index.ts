import { builder } from '../builder.ts';
import './usage.ts';
import './invoice.ts';
import './schema-usage.ts';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
