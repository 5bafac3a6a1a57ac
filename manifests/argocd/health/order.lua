local phase = obj.status and obj.status.phase or nil
if phase == nil or stale(obj, ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the order"
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = ready and ready.message or "The order failed"
elseif phase == "Provisioned" and ready and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Provisioned"
elseif phase == "Cancelled" or phase == "Revoked" then
  hs.status = "Healthy"
  hs.message = (ready and ready.message) or ("The order is " .. phase)
elseif phase == "PendingApproval" then
  hs.status = "Suspended"
  hs.message = (ready and ready.message) or "Waiting for approval"
else
  hs.status = "Progressing"
  hs.message = (ready and ready.message) or phase
end
return hs
