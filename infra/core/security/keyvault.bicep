// Key Vault with Azure RBAC (no access policies): identities get roles in app/rbac.bicep.
param name string
param location string = resourceGroup().location
param tags object = {}

@description('Purge protection cannot be turned off once on; production keeps it on.')
param purgeProtection bool = false

@allowed([
  'Allow'
  'Deny'
])
@description('Deny: only the private endpoint, trusted Azure services and allowedIpRanges reach it (private networking).')
param networkDefaultAction string = 'Allow'

@description('Public addresses or CIDR ranges let through when networkDefaultAction is Deny (operators\' workstations; the pipeline adds its runner for one run).')
param allowedIpRanges array = []

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // The API accepts true or nothing: false is refused once the vault exists.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      ipRules: [for range in allowedIpRanges: { value: range }]
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
