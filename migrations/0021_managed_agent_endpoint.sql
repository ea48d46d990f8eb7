-- A managed tenant's own buyer endpoint: the MCP URL of its sales agent (resolved against upstreamUrl,
-- in endpoint_url and protocol like an AGENT's) and the tenant principal's access token, sealed apart
-- from the tenant-management key in auth_ciphertext. With both, an ACTIVE managed source is sold at /mcp.
ALTER TABLE inventory_source ADD COLUMN agent_auth_ciphertext text;
ALTER TABLE inventory_source ADD CONSTRAINT inventory_source_agent_auth_managed_only
  CHECK (agent_auth_ciphertext IS NULL OR execution_type = 'MANAGED_SALES_AGENT');
