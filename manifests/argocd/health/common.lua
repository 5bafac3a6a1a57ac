-- Shared by the ipsolis health checks (each <kind>.lua is this file followed by its own rule;
-- manifests/argocd/argocd-cm.yaml holds the concatenation Argo CD runs, checked by a test).
local function readyOf(obj)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then return c end
  end
  return nil
end
local function stale(obj, c)
  local gen = obj.metadata and obj.metadata.generation or 0
  local seen = (obj.status and obj.status.observedGeneration) or (c and c.observedGeneration) or 0
  return gen > 0 and seen < gen
end
local hs = {}
local ready = readyOf(obj)
