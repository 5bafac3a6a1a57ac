{{- define "ipsolis.labels" -}}
app.kubernetes.io/part-of: ipsolis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/*
Selector labels of one component: ipsolis.selector (dict "root" . "component" "api"). A
Deployment's selector is immutable: these stay what chart 0.1.0 used, so upgrades from it work
(test/install/helm.test.ts). One release per namespace (the operator owns its namespace).
*/}}
{{- define "ipsolis.selector" -}}
app.kubernetes.io/name: ipsolis-{{ .component }}
{{- end -}}

{{- define "ipsolis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The pod-level security context of every ipsolis pod. */}}
{{- define "ipsolis.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container-level security context of every ipsolis container. */}}
{{- define "ipsolis.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* env entry reading one key of the database Secret: ipsolis.dbEnv (dict "root" . "name" "X" "key" "url") */}}
{{- define "ipsolis.dbEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.database.existingSecret }}
      key: {{ .key }}
{{- end -}}

{{/*
The notification settings (api/notify/settings.ts), for the API (full: every setting it sends
with) and the approvals CronJob (only IPSOLIS_NOTIFY_CHANNELS, the names of the channels the API
sends on: it writes the outbox, the API delivers; it gets no address and no secret). Secrets come from keys of api.existingSecret: smtp-password, teams-webhook-url,
notify-webhook-secret. ipsolis.notifyEnv (dict "root" . "full" true)
*/}}
{{- define "ipsolis.notifyEnv" -}}
{{- $n := .root.Values.notifications -}}
{{- $secret := .root.Values.api.existingSecret -}}
{{- if not .full }}
{{- /* The tick: only the channel names the API sends on (no address, no secret). */}}
{{- $configured := list -}}
{{- if $n.smtp.host }}{{ $configured = append $configured "email" }}{{ end -}}
{{- if $n.teams }}{{ $configured = append $configured "teams" }}{{ end -}}
{{- if $n.webhookUrl }}{{ $configured = append $configured "webhook" }}{{ end -}}
{{- $used := $configured -}}
{{- if $n.channels }}{{ $used = splitList "," $n.channels }}{{ end -}}
{{- if $used }}
- name: IPSOLIS_NOTIFY_CHANNELS
  value: {{ join "," $used | quote }}
{{- end }}
{{- else }}
{{- if $n.channels }}
- name: IPSOLIS_NOTIFY_CHANNELS
  value: {{ $n.channels | quote }}
{{- end }}
{{- if $n.smtp.host }}
- name: IPSOLIS_SMTP_HOST
  value: {{ $n.smtp.host | quote }}
- name: IPSOLIS_SMTP_PORT
  value: {{ $n.smtp.port | quote }}
- name: IPSOLIS_SMTP_STARTTLS
  value: {{ $n.smtp.starttls | quote }}
- name: IPSOLIS_SMTP_SECURE
  value: {{ $n.smtp.secure | quote }}
- name: IPSOLIS_SMTP_FROM
  value: {{ $n.smtp.from | quote }}
{{- if $n.smtp.user }}
- name: IPSOLIS_SMTP_USER
  value: {{ $n.smtp.user | quote }}
- name: IPSOLIS_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: smtp-password
{{- end }}
{{- end }}
{{- if $n.teams }}
- name: IPSOLIS_TEAMS_WEBHOOK_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: teams-webhook-url
{{- end }}
{{- if $n.webhookUrl }}
- name: IPSOLIS_NOTIFY_WEBHOOK_URL
  value: {{ $n.webhookUrl | quote }}
- name: IPSOLIS_NOTIFY_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: notify-webhook-secret
{{- end }}
{{- end }}
{{- end -}}
