// Logs kept beyond Log Analytics' retention: every resource's diagnostic logs (the Function
// App's, Application Insights' requests and traces, Key Vault's audit events, PostgreSQL's
// server logs) are also written to a storage account of their own, where a lifecycle policy
// moves them to cool and then archive storage and deletes them after archiveRetentionDays.
// Production keeps them two years, as long as the audit log's own retention (docs/operations.md,
// "Security").
param name string
param location string = resourceGroup().location
param tags object = {}

@minValue(90)
@maxValue(3650)
param archiveRetentionDays int = 730

param functionAppName string
param applicationInsightsName string
param keyVaultName string
param postgresServerName string

resource archive 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Cool'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Azure Monitor writes as a trusted service; nobody else needs the network.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Deny'
    }
  }

  resource lifecycle 'managementPolicies' = {
    name: 'default'
    properties: {
      policy: {
        rules: [
          {
            name: 'archive-then-delete'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: [
                  'appendBlob'
                  'blockBlob'
                ]
              }
              actions: {
                baseBlob: {
                  tierToArchive: {
                    daysAfterCreationGreaterThan: 90
                  }
                  delete: {
                    daysAfterCreationGreaterThan: archiveRetentionDays
                  }
                }
              }
            }
          }
        ]
      }
    }
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}

var allLogs = [
  {
    categoryGroup: 'allLogs'
    enabled: true
  }
]

resource functionAppLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'archive'
  scope: functionApp
  properties: {
    storageAccountId: archive.id
    logs: allLogs
  }
}

resource applicationInsightsLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'archive'
  scope: applicationInsights
  properties: {
    storageAccountId: archive.id
    logs: allLogs
  }
}

resource keyVaultLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'archive'
  scope: vault
  properties: {
    storageAccountId: archive.id
    logs: allLogs
  }
}

resource postgresLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'archive'
  scope: postgres
  properties: {
    storageAccountId: archive.id
    logs: allLogs
  }
}

output name string = archive.name
