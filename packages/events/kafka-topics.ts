import type { Admin } from 'kafkajs';
import type { Logger } from '@mindweave/service-kit';

/** What ensureTopics needs of kafkajs' admin client. */
export type TopicAdmin = Pick<Admin, 'listTopics' | 'createTopics'>;

// Accounts of managed clusters often may produce and consume but not create topics (or not even
// list them): then the topics are the operator's to create, and publishing must still work.
const notAuthorized = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED']);
/** Whether a kafkajs error, or every error of an aggregate (createTopics reports per topic), is of one of these types. */
function hasType(error: unknown, ...types: string[]): boolean {
  const { type, errors } = (error ?? {}) as { type?: unknown; errors?: unknown };
  if (typeof type === 'string' && types.includes(type)) return true;
  return Array.isArray(errors) && errors.length > 0 && errors.every((inner) => hasType(inner, ...types));
}
const isAuthorizationError = (error: unknown) => hasType(error, ...notAuthorized);

/**
 * Creates the topics that do not exist yet, with the configured partitions and replication rather
 * than the broker's defaults (often 1 and 1). When the account may not list or create topics, it
 * says so once and carries on: the topics exist, or the broker creates them on first use.
 */
export async function ensureTopics(
  admin: TopicAdmin,
  topics: string[],
  layout: { topicPartitions: number; replicationFactor: number },
  log: Logger,
): Promise<void> {
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      topics: missing.map((topic) => ({ topic, numPartitions: layout.topicPartitions, replicationFactor: layout.replicationFactor })),
      waitForLeaders: true,
    });
    log.info({ topics: missing, ...layout }, 'Kafka topics created');
  } catch (error) {
    if (hasType(error, 'INVALID_REPLICATION_FACTOR')) {
      throw new Error(
        `Kafka refused ${layout.replicationFactor} copies per partition: set KAFKA_REPLICATION_FACTOR to at most the number of brokers (1 for a single-broker cluster)`,
        { cause: error },
      );
    }
    if (!isAuthorizationError(error)) throw error;
    log.warn(
      { err: error, topics },
      'not allowed to list or create Kafka topics; they must exist (or be created by the broker on first use)',
    );
  }
}
