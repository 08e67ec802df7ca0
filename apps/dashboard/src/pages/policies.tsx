import { PoliciesDocument, PolicyAuditLogDocument, type PolicyFieldsFragment } from '@mindweave/sdk';
import { client } from '../api.ts';
import type { Scope } from '../app.tsx';
import { formatDateTime, formatInteger, formatUsd } from '../format.ts';
import { useLoad, usePages } from '../hooks.ts';
import { Empty, Loading, MoreButton, Panel, ProblemMessage, Table } from '../ui.tsx';

/** A policy's rules in words (their shapes: CreatePolicyInput.rules in the schema). */
export function describeRules(policy: Pick<PolicyFieldsFragment, 'type' | 'rules'>): string {
  const rules = (policy.rules ?? {}) as { models?: unknown; maxUsdPerMonth?: unknown; maxTokensPerMonth?: unknown };
  const models = Array.isArray(rules.models) ? rules.models.map(String) : [];
  switch (policy.type) {
    case 'MODEL_ALLOWLIST':
      return `Only ${models.join(', ')}`;
    case 'MODEL_DENYLIST':
      return `Not ${models.join(', ')}`;
    case 'SPEND_LIMIT':
      return `At most ${formatUsd(Number(rules.maxUsdPerMonth))} a month`;
    case 'TOKEN_LIMIT':
      return `At most ${formatInteger(Number(rules.maxTokensPerMonth))} tokens a month`;
    default:
      return JSON.stringify(policy.rules);
  }
}

const typeNames: Record<string, string> = {
  MODEL_ALLOWLIST: 'Model allowlist',
  MODEL_DENYLIST: 'Model denylist',
  SPEND_LIMIT: 'Spend limit',
  TOKEN_LIMIT: 'Token limit',
};

export function PoliciesPage({ scope }: { scope: Scope }) {
  const organizationId = scope.organization.id;
  const attempt = { action: 'see policies', role: scope.role };
  const policies = useLoad(
    async () => (await client.request(PoliciesDocument, { organizationId })).organization?.policies ?? [],
    [organizationId],
    attempt,
  );
  const violations = usePages(
    async (after) => {
      const log = (await client.request(PolicyAuditLogDocument, { organizationId, first: 20, after, kind: 'POLICY_VIOLATED' })).organization
        ?.policyAuditLog;
      return { items: log?.edges.map((e) => e.node) ?? [], pageInfo: log?.pageInfo ?? { hasNextPage: false } };
    },
    [organizationId],
    attempt,
  );

  return (
    <div className="policies">
      <Panel title="Policies">
        <p className="muted">Applied to every usage event before it is counted. Owners and admins change them through the API.</p>
        <ProblemMessage problem={policies.problem} onRetry={policies.reload} />
        {policies.loading && !policies.data ? <Loading what="policies" /> : null}
        {policies.data?.length === 0 ? <Empty>No policies: every model and any amount of usage is allowed.</Empty> : null}
        {policies.data?.length ? (
          <Table columns={['Name', 'Type', 'Rule', 'State', 'Changed']}>
            {policies.data.map((policy) => (
              <tr key={policy.id}>
                <th scope="row">{policy.name}</th>
                <td>{typeNames[policy.type] ?? policy.type}</td>
                <td>{describeRules(policy)}</td>
                <td>
                  {!policy.enabled ? (
                    <span className="tag">Disabled</span>
                  ) : policy.enforcing ? (
                    <span className="tag ok">Enforcing</span>
                  ) : (
                    <span className="tag warn">Audit only</span>
                  )}
                </td>
                <td>{formatDateTime(policy.updatedAt)}</td>
              </tr>
            ))}
          </Table>
        ) : null}
      </Panel>

      <Panel title="Recent violations">
        <ProblemMessage problem={violations.problem} onRetry={violations.reload} />
        {violations.loading && !violations.items ? <Loading what="violations" /> : null}
        {violations.items?.length === 0 ? <Empty>No violations in the last 90 days.</Empty> : null}
        {violations.items?.length ? (
          <Table columns={['When', 'Policy', 'Model', 'Why']}>
            {violations.items.map((entry) => (
              <tr key={entry.id}>
                <td>{formatDateTime(entry.occurredAt)}</td>
                <th scope="row">{entry.policyName}</th>
                <td>{entry.model ?? '–'}</td>
                <td>{entry.reason ?? '–'}</td>
              </tr>
            ))}
          </Table>
        ) : null}
        <MoreButton pages={violations} what="violations" />
      </Panel>
    </div>
  );
}
