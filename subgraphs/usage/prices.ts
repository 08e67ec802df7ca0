import { prisma } from './db.ts';

type Price = { input: number; output: number };

const refreshMs = 30_000;
let loaded: { at: number; prices: Promise<Map<string, Price>> } | undefined;

async function loadPrices() {
  const rows = await prisma.modelPrice.findMany();
  return new Map(rows.map((row) => [row.model, { input: Number(row.inputUsdPerMillion), output: Number(row.outputUsdPerMillion) }]));
}

/** The price table, read from the database and refreshed every 30 seconds. */
export function currentPrices(): Promise<Map<string, Price>> {
  if (!loaded || Date.now() - loaded.at > refreshMs) {
    const prices = loadPrices();
    prices.catch(() => (loaded = undefined));
    loaded = { at: Date.now(), prices };
  }
  return loaded.prices;
}

/** Cost in USD; an unknown model costs 0 and is flagged. */
export function costOf(prices: Map<string, Price>, model: string, inputTokens: number, outputTokens: number) {
  const price = prices.get(model);
  if (!price) return { costUsd: 0, unpricedModel: true };
  return { costUsd: Math.round(((inputTokens * price.input + outputTokens * price.output) / 1_000_000) * 1e9) / 1e9, unpricedModel: false };
}
