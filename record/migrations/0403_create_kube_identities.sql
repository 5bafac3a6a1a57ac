-- Kubernetes identities that act as an admin account (issue #21: the kubectl plugin signs in with
-- the user's kubeconfig identity). The API asks the cluster who a bearer token belongs to
-- (TokenReview) and looks the username up here; an identity maps to at most one account.
CREATE TABLE kube_identities (
  kube_username text PRIMARY KEY CHECK (length(kube_username) BETWEEN 1 AND 253),
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kube_identities_by_user ON kube_identities (user_id);
