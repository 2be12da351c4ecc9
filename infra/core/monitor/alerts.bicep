// What watches the app from outside, and who hears about it (docs/operations.md, "Alerts").
//   - a standard availability test of GET /health every 5 minutes from several locations: Flex
//     Consumption has no platform health probe, and the in-app health_check timer cannot report
//     an app that does not start;
//   - metric alerts: availability, average response time;
//   - log alerts (KQL over the Application Insights component): error rate, and the operations
//     events of the backups and the restore drill (shared/backup, functions/timers.py);
//   - one action group (email and webhook) that every rule notifies.
// The thresholds are the runbook's: change them here and in docs/operations.md together.
param location string = resourceGroup().location
param tags object = {}

param applicationInsightsName string

@description('Base URL of the app (https://host), without a trailing slash.')
param appUrl string

@description('Prefix of every rule name (the environment).')
param namePrefix string

@description('Address the alerts are mailed to. Empty: no email receiver.')
param alertEmail string = ''

@secure()
@description('Webhook (a chat channel, an on-call tool) the alerts are posted to. Empty: no webhook receiver.')
param alertWebhookUrl string = ''

// Availability test locations (Application Insights location ids): Asia first, where the users are.
var testLocations = [
  'apac-jp-kaw-edge' // Japan East
  'apac-hk-hkn-azr' // East Asia
  'apac-sg-sin-azr' // Southeast Asia
  'us-ca-sjc-azr' // West US
  'emea-nl-ams-azr' // West Europe
]

// The runbook's numbers.
var thresholds = {
  errorRatePercent: 1 // 5xx share of requests over 5 minutes
  averageResponseMs: 500 // average request duration over 15 minutes
  incrementalBackupMinutes: 30 // the RPO is 15 minutes: two missed runs
  fullBackupHours: 26 // nightly, with two hours of slack
  restoreDrillRtoSeconds: 3600 // the 1-hour RTO
  failedLocations: 2 // availability: this many locations failing at once
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'nb-ops' // at most 12 characters, shown in SMS and email subjects
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operators-email'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
    webhookReceivers: empty(alertWebhookUrl) ? [] : [
      {
        name: 'operators-webhook'
        serviceUri: alertWebhookUrl
        useCommonAlertSchema: true
      }
    ]
  }
}

resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: '${namePrefix}-health'
  location: location
  // Links the test to the component (the portal's availability blade reads this tag).
  tags: union(tags, {
    'hidden-link:${applicationInsights.id}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: '${namePrefix}-health'
    Name: '${namePrefix} GET /health'
    Description: 'Liveness from outside: GET /health answers 200 within 30 seconds.'
    Enabled: true
    Kind: 'standard'
    Frequency: 300
    Timeout: 30
    RetryEnabled: true
    Locations: [for id in testLocations: { Id: id }]
    Request: {
      RequestUrl: '${appUrl}/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
      FollowRedirects: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 14
    }
  }
}

var actions = {
  actionGroups: [
    actionGroup.id
  ]
}

resource availabilityAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-availability'
  location: 'global'
  tags: tags
  properties: {
    description: 'GET /health fails from ${thresholds.failedLocations} or more locations (availability test).'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: applicationInsights.id
      failedLocationCount: thresholds.failedLocations
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

resource responseTimeAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-response-time'
  location: 'global'
  tags: tags
  properties: {
    description: 'Average server response time above ${thresholds.averageResponseMs} ms over 15 minutes.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'average-duration'
          metricNamespace: 'microsoft.insights/components'
          metricName: 'requests/duration'
          timeAggregation: 'Average'
          operator: 'GreaterThan'
          threshold: thresholds.averageResponseMs
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// Log alerts. The app's JSON events reach `traces` with the event dictionary as the message
// (Azure Monitor OpenTelemetry renders a structlog record's dict as JSON) or, for fields logged
// as attributes, in customDimensions: each query reads both.
var eventFields = '| extend e = parse_json(message) | extend event = coalesce(tostring(e.event), tostring(customDimensions.event)), status = coalesce(tostring(e.status), tostring(customDimensions.status)), kind = coalesce(tostring(e.kind), tostring(customDimensions.kind)), rto_seconds = coalesce(todouble(e.rto_seconds), todouble(customDimensions.rto_seconds))'

var logAlerts = [
  {
    name: 'error-rate'
    description: 'More than ${thresholds.errorRatePercent} % of requests answered 5xx over 5 minutes.'
    severity: 1
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    query: 'requests | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total > 0 | extend error_rate_pct = 100.0 * failed / total'
    metricMeasureColumn: 'error_rate_pct'
    operator: 'GreaterThan'
    threshold: thresholds.errorRatePercent
  }
  {
    name: 'incremental-backup-missing'
    description: 'No successful incremental_backup_completed for ${thresholds.incrementalBackupMinutes} minutes: the 15-minute RPO is broken.'
    severity: 1
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    query: 'traces | where message has "incremental_backup_completed" or customDimensions has "incremental_backup_completed" ${eventFields} | where event == "incremental_backup_completed" and status == "succeeded" | summarize completed = count()'
    metricMeasureColumn: 'completed'
    operator: 'LessThan'
    threshold: 1
  }
  {
    name: 'full-backup-missing'
    description: 'No successful full backup for ${thresholds.fullBackupHours} hours (the nightly timer\'s, or any other: on demand, before a migration).'
    severity: 1
    evaluationFrequency: 'PT1H'
    // The longest window a log alert takes is two days; the query narrows it to 26 hours.
    windowSize: 'P2D'
    query: 'traces | where timestamp > ago(${thresholds.fullBackupHours}h) | where message has_any ("nightly_backup_completed", "backup_succeeded") or customDimensions has_any ("nightly_backup_completed", "backup_succeeded") ${eventFields} | where (event == "nightly_backup_completed" and status == "succeeded") or (event == "backup_succeeded" and kind == "full") | summarize completed = count()'
    metricMeasureColumn: 'completed'
    operator: 'LessThan'
    threshold: 1
  }
  {
    name: 'restore-drill-failed'
    description: 'The weekly restore drill failed, or its RTO was above ${thresholds.restoreDrillRtoSeconds} seconds (1 hour).'
    severity: 1
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    query: 'traces | where message has "restore_drill_completed" or customDimensions has "restore_drill_completed" ${eventFields} | where event == "restore_drill_completed" | where status == "failed" or rto_seconds > ${thresholds.restoreDrillRtoSeconds} | summarize bad_drills = count()'
    metricMeasureColumn: 'bad_drills'
    operator: 'GreaterThan'
    threshold: 0
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in logAlerts: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: '${namePrefix} ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: rule.evaluationFrequency
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Total'
            metricMeasureColumn: rule.metricMeasureColumn
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: actions
    }
  }
]

output actionGroupId string = actionGroup.id
output availabilityTestName string = healthTest.name
