// Storage account reached only with Microsoft Entra identities (no shared keys): the Functions
// host storage (AzureWebJobsStorage__accountName), the deployment package container, the
// app's own containers (matching models, backups) and queues (background jobs and their poison
// queues).
param name string
param location string = resourceGroup().location
param tags object = {}

@description('Blob containers to create (private).')
param containers array = []

@description('Queues to create (the background jobs\' and their `-poison` queues).')
param queues array = []

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string = 'Standard_LRS'

@minValue(1)
@maxValue(365)
@description('Days a deleted blob or container can still be restored.')
param softDeleteRetentionDays int = 7

@allowed([
  'Allow'
  'Deny'
])
@description('Deny: only the private endpoint, trusted Azure services and allowedIpRanges reach it (private networking).')
param networkDefaultAction string = 'Allow'

@description('Public addresses or CIDR ranges let through when networkDefaultAction is Deny (operators\' workstations; the pipeline adds its runner for one run).')
param allowedIpRanges array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      ipRules: [for range in allowedIpRanges: { value: range, action: 'Allow' }]
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: {
        enabled: true
        days: softDeleteRetentionDays
      }
      containerDeleteRetentionPolicy: {
        enabled: true
        days: softDeleteRetentionDays
      }
    }

    resource container 'containers' = [
      for containerName in containers: {
        name: containerName
        properties: {
          publicAccess: 'None'
        }
      }
    ]
  }
}

resource queueServices 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queues: {
    parent: queueServices
    name: queueName
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
