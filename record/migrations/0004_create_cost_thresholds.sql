-- Cost thresholds per cost centre and the alerts the daily check raised: at most one alert per
-- cost centre per reporting day (primary key), notified at most once (notified_at).
CREATE TABLE cost_thresholds (
  cost_center text PRIMARY KEY,
  amount numeric(14, 2) NOT NULL CHECK (amount >= 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL
);

CREATE TABLE cost_alerts (
  cost_center text NOT NULL,
  day date NOT NULL,
  currency text NOT NULL,
  threshold numeric(14, 2) NOT NULL,
  month_to_date numeric(14, 2) NOT NULL,
  projected numeric(14, 2) NOT NULL,
  raised_at timestamptz NOT NULL DEFAULT now(),
  notified_at timestamptz,
  PRIMARY KEY (cost_center, day)
);
