/** The domain events an organization's webhook endpoints can subscribe to (each names its organization). */
export const webhookEventTypes = [
  'usage.recorded',
  'policy.changed',
  'policy.violated',
  'mcp.server.published',
  'export.completed',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];
