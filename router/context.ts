import type { Identity, Logger } from '@mindweave/service-kit';

export interface RouterContext {
  identity: Identity;
  requestId: string;
  log: Logger;
}
