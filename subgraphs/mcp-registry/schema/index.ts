import { builder } from '../builder.ts';
import './organization.ts';
import './mcp-server.ts';
import './mcp-server-version.ts';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
