{{- define "gatehouse.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: serve | worker | migrate */}}
{{- define "gatehouse.selector" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* Environment shared by serve, worker and the migrations Job. Secrets are
     files (GATEHOUSE_*_FILE), never environment values. */}}
{{- define "gatehouse.env" -}}
- name: GATEHOUSE_PUBLIC_URL
  value: {{ required "publicURL is required" .Values.publicURL | quote }}
{{- with .Values.tenantDomain }}
- name: GATEHOUSE_TENANT_DOMAIN
  value: {{ . | quote }}
{{- end }}
{{- with .Values.trustedProxies }}
- name: GATEHOUSE_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
- name: GATEHOUSE_DATABASE_URL_FILE
  value: /etc/gatehouse/secrets/{{ .Values.secretKeys.databaseURL }}
- name: GATEHOUSE_REDIS_URL_FILE
  value: /etc/gatehouse/secrets/{{ .Values.secretKeys.redisURL }}
- name: GATEHOUSE_SECRET_KEY_FILE
  value: /etc/gatehouse/secrets/{{ .Values.secretKeys.secretKey }}
- name: GATEHOUSE_ADMIN_TOKEN_FILE
  value: /etc/gatehouse/secrets/{{ .Values.secretKeys.adminToken }}
- name: GATEHOUSE_ADDR
  value: ":8080"
- name: GATEHOUSE_ADMIN_ADDR
  value: {{ printf ":%v" .Values.adminPort | quote }}
- name: GATEHOUSE_LOG_FORMAT
  value: json
- name: GATEHOUSE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: GATEHOUSE_DB_MAX_OPEN_CONNS
  value: {{ .Values.database.maxOpenConns | quote }}
- name: GATEHOUSE_DB_MAX_IDLE_CONNS
  value: {{ .Values.database.maxIdleConns | quote }}
- name: GATEHOUSE_DB_CONN_MAX_LIFETIME
  value: {{ .Values.database.connMaxLifetime | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gatehouse.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ required "existingSecret is required" .Values.existingSecret }}
    defaultMode: 0400
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "gatehouse.secretMounts" -}}
- name: secrets
  mountPath: /etc/gatehouse/secrets
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}
