export {
  createJobsConnection,
  createProducers,
  createSandboxedWorker,
  createWorker,
  isFinalAttempt,
  parseJob,
  type AddOptions,
  type Processors,
  type ProducerOptions,
  type Producers,
  type WorkerOptions,
} from './producers.ts';
export { jobsTelemetry, withJobSpan } from './telemetry.ts';
export {
  defaultJobOptions,
  jobIdOf,
  jobSchemas,
  jobsPrefix,
  keepCompleted,
  keepFailed,
  priorities,
  queueNames,
  queueSettings,
  type JobData,
  type JobName,
  type Priority,
  type QueueName,
  type QueueSettings,
} from './queues.ts';
export { observeQueues, queueStates } from './metrics.ts';
export { registerSchedules, schedules } from './schedules.ts';
export { checkWebhookDestination, DestinationRefusedError, isPrivateAddress } from './webhook-address.ts';
export {
  signWebhook,
  verifyWebhookSignature,
  webhookHeaders,
  webhookToleranceSeconds,
  type WebhookVerification,
} from './webhook-signature.ts';
export { webhookEventTypes, type WebhookEventType } from './webhook-events.ts';
