import { prisma } from './db.ts';

type Price = { input: number; output: number };

const refreshMs = 30_000;
const retryMs = 5_000;
let known: Map<string, Price> | undefined;
let refresh: { at: number; prices: Promise<Map<string, Price>> } | undefined;

async function loadPrices() {
  const rows = await prisma.modelPrice.findMany();
  known = new Map(rows.map((row) => [row.model, { input: Number(row.inputUsdPerMillion), output: Number(row.outputUsdPerMillion) }]));
  return known;
}

/**
 * The price table, read from the database and refreshed every 30 seconds in the background. Once
 * read, no request waits for the database: while it cannot answer, the table last read stays in
 * use (retried every 5 s), so metering goes on through a PostgreSQL outage. Only a process that
 * never read it fails (its callers get UNAVAILABLE).
 */
export function currentPrices(): Promise<Map<string, Price>> {
  if (!refresh || Date.now() - refresh.at > refreshMs) {
    const attempt = { at: Date.now(), prices: loadPrices() };
    attempt.prices.catch(() => (attempt.at = Date.now() - refreshMs + retryMs));
    refresh = attempt;
  }
  return known ? Promise.resolve(known) : refresh.prices;
}

/** Cost in USD; an unknown model costs 0 and is flagged. */
export function costOf(prices: Map<string, Price>, model: string, inputTokens: number, outputTokens: number) {
  const price = prices.get(model);
  if (!price) return { costUsd: 0, unpricedModel: true };
  return { costUsd: Math.round(((inputTokens * price.input + outputTokens * price.output) / 1_000_000) * 1e9) / 1e9, unpricedModel: false };
}
