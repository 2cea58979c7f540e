{{- /* Labels on everything this chart makes. */}}
{{- define "festival.labels" -}}
app.kubernetes.io/name: matsuri-festival
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/part-of: matsuri
matsuri-event: {{ .Values.event | quote }}
{{- end }}

{{- /* A pod's selector labels: (list $ "component") */}}
{{- define "festival.selector" -}}
app.kubernetes.io/name: matsuri-festival
app.kubernetes.io/instance: {{ (index . 0).Release.Name | quote }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- end }}

{{- define "festival.registry" -}}
{{- required "image.registry: the registry you pushed the images to (infra/README.md, Images), e.g. registry.example.com/ml-festival" .Values.image.registry | trimSuffix "/" }}
{{- end }}

{{- define "festival.image.singleuser" -}}
{{ include "festival.registry" . }}/{{ .Values.image.singleuser }}:{{ .Values.image.tag }}
{{- end }}

{{- define "festival.image.kit" -}}
{{ include "festival.registry" . }}/{{ .Values.image.kit }}:{{ .Values.image.tag }}
{{- end }}

{{- define "festival.exchangeClass" -}}
{{- required "exchange.storageClassName: a storage class offering ReadWriteMany (NFS, EFS, Filestore, Azure Files); nbgrader's exchange is shared by every server" .Values.exchange.storageClassName }}
{{- end }}

{{- /*
  What a JupyterHub service needs to know when the hub does not start it itself:
  (list $ "service name" port). The token is the one the jupyterhub chart generated.
*/}}
{{- define "festival.hubServiceEnv" -}}
{{- $ := index . 0 }}
{{- $name := index . 1 }}
{{- $prefix := printf "%sservices/%s/" $.Values.hub.baseUrl $name }}
- name: JUPYTERHUB_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.hub.secret | quote }}
      key: {{ printf "hub.services.%s.apiToken" $name | quote }}
- name: JUPYTERHUB_API_URL
  value: {{ $.Values.hub.apiUrl | quote }}
- name: JUPYTERHUB_BASE_URL
  value: {{ $.Values.hub.baseUrl | quote }}
- name: JUPYTERHUB_SERVICE_NAME
  value: {{ $name | quote }}
- name: JUPYTERHUB_SERVICE_PREFIX
  value: {{ $prefix | quote }}
- name: JUPYTERHUB_SERVICE_URL
  value: {{ printf "http://0.0.0.0:%v" (index . 2) | quote }}
- name: JUPYTERHUB_CLIENT_ID
  value: {{ printf "service-%s" $name | quote }}
- name: JUPYTERHUB_OAUTH_CALLBACK_URL
  value: {{ printf "%soauth_callback" $prefix | quote }}
- name: JUPYTERHUB_OAUTH_ACCESS_SCOPES
  value: {{ printf "[\"access:services!service=%s\"]" $name | quote }}
{{- end }}

{{- define "festival.commonEnv" -}}
- name: PLOOMBER_STATS_ENABLED
  value: "false"
- name: MATSURI_WAREHOUSE
  value: /srv/matsuri/warehouse/company.duckdb
- name: JUPYTERHUB_ACTIVITY_INTERVAL
  value: "300"
{{- end }}

{{- define "festival.pullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "festival.sandboxPod" -}}
{{- with .Values.sandboxPods.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.sandboxPods.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.sandboxPods.runtimeClassName }}
runtimeClassName: {{ . | quote }}
{{- end }}
{{- end }}
