-- Argo CD health check for b2b.partnerops.io/PartnerInvitation. Add it to argocd-cm as
--   resource.customizations.health.b2b.partnerops.io_PartnerInvitation: |
--     <this file>
-- Healthy once the invitation exists and matches the spec; redemption (a person's act,
-- possibly days later) is shown by the Redeemed condition and does not hold sync health.
-- An expired object is Healthy too (its access ended as the spec asked); the message says so.
hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "The operator has not observed the latest spec yet"
  return hs
end
-- Like kstatus: the first of Reconciling=True (in progress) or Stalled=True (failed) decides.
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Reconciling" and c.status == "True" then
    return {status = "Progressing", message = c.message}
  end
  if c.type == "Stalled" and c.status == "True" then
    return {status = "Degraded", message = c.message}
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    if c.status == "True" then
      for _, e in ipairs(obj.status.conditions) do
        if e.type == "Expired" and e.status == "True" then
          return {status = "Healthy", message = "Expired: " .. e.message}
        end
      end
      local state = obj.status.state or "Invited"
      return {status = "Healthy", message = state}
    end
    return {status = "Progressing", message = c.message}
  end
end
return hs
