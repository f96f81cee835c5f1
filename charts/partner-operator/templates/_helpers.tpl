{{/* The chart name, for labels. */}}
{{- define "partner-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release name, with the chart name unless it holds it. */}}
{{- define "partner-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selects the operator's pods; never changes across upgrades (a Deployment's selector is immutable). */}}
{{- define "partner-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "partner-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "partner-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "partner-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The body of an object's metadata: name, the release namespace unless "cluster" is set, the
chart's labels plus "labels", commonAnnotations plus "annotations".
Call: include "partner-operator.metadata" (dict "ctx" $ "name" "..." "cluster" true "labels" (dict ...) "annotations" (dict ...))
*/}}
{{- define "partner-operator.metadata" -}}
name: {{ .name }}
{{- if not .cluster }}
namespace: {{ .ctx.Release.Namespace }}
{{- end }}
labels:
  {{- include "partner-operator.labels" .ctx | nindent 2 }}
  {{- with .labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with merge (dict) (.annotations | default dict) .ctx.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "partner-operator.serviceAccountName" -}}
{{- default (printf "%s-controller-manager" (include "partner-operator.fullname" .)) .Values.serviceAccount.name }}
{{- end }}

{{- define "partner-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the client certificate Secret is mounted. */}}
{{- define "partner-operator.clientCertificateDir" -}}
/var/run/secrets/partner-operator/azure-client-certificate
{{- end }}

{{/* Where the metrics certificate Secret is mounted (--metrics-cert-dir). */}}
{{- define "partner-operator.metricsCertDir" -}}
/var/run/secrets/partner-operator/metrics-certs
{{- end }}

{{/*
crds.enabled and crds.keep, "true" or "false", true when unset: helm upgrade --reuse-values from a
chart version without them (0.1.0) renders with the old release's values, which lack them.
*/}}
{{- define "partner-operator.crdsEnabled" -}}
{{- dig "crds" "enabled" true .Values.AsMap }}
{{- end }}
{{- define "partner-operator.crdsKeep" -}}
{{- dig "crds" "keep" true .Values.AsMap }}
{{- end }}
