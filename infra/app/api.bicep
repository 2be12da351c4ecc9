// The Function App on Flex Consumption: Python 3.11, a system-assigned identity, and its package
// deployed to a blob container that the identity reaches (no connection string anywhere).
// Its app settings are set by app/appsettings.bicep once the identity holds its roles.
param name string
param location string = resourceGroup().location
param tags object = {}

param planId string
param storageAccountName string
param deploymentContainerName string

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@minValue(0)
@description('Instances kept warm for the HTTP functions (the "http" group): production keeps at least one, as the 500 ms response target cannot hold through cold starts.')
param alwaysReadyHttpInstances int = 0

@description('Subnet (delegated to Microsoft.App/environments) the app sends its outbound traffic through; empty: no virtual network.')
param subnetId string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // The app answers CORS itself, with credentials (README): leave the platform's CORS empty.
      cors: {
        allowedOrigins: []
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: (alwaysReadyHttpInstances > 0) ? [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output principalId string = functionApp.identity.principalId
