if ready == nil or stale(obj, ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ready.reason
elseif ready.reason == "Pending" or ready.reason == "Revoking" then
  hs.status = "Progressing"
  hs.message = ready.message or ready.reason
else
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason
end
return hs
