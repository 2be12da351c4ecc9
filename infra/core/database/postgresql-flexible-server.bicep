// Azure Database for PostgreSQL Flexible Server: 35 days of point-in-time backups, stored
// geo-redundantly (the paired region can restore it). Geo-redundancy can only be chosen when the
// server is created.
param name string
param location string = resourceGroup().location
param tags object = {}

param administratorLogin string

@secure()
param administratorLoginPassword string

param skuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@minValue(32)
param storageSizeGB int = 32

@allowed([
  'Disabled'
  'SameZone'
  'ZoneRedundant'
])
param highAvailability string = 'Disabled'

@allowed([
  '15'
  '16'
])
param version string = '16'

param databaseName string = 'neulbomcare'

@minValue(7)
@maxValue(35)
param backupRetentionDays int = 35

@allowed([
  'Enabled'
  'Disabled'
])
param geoRedundantBackup string = 'Enabled'

@description('Let every Azure service, any tenant\'s, reach the server: only where the parameter file chooses public networking (networkAccess). Private networking reaches it through a private endpoint instead.')
param allowAzureServices bool = true

@description('Microsoft Entra authentication on (the Function App logs in with its managed identity, DATABASE_AUTH=entra). Password logins stay on for the administrator: migrations and restores.')
param activeDirectoryAuth bool = false

@description('Object id of the Microsoft Entra administrator (the deployment pipeline\'s service principal), who creates the app identity\'s database role. Empty: none set here.')
param entraAdminObjectId string = ''

@description('Display name of the Microsoft Entra administrator: the role it logs in as.')
param entraAdminName string = ''

@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param entraAdminType string = 'ServicePrincipal'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: activeDirectoryAuth ? 'Enabled' : 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup
    }
    highAvailability: {
      mode: highAvailability
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
    maintenanceWindow: {
      // Sunday 19:00 UTC is Monday 04:00 KST, after the nightly backup.
      customWindow: 'Enabled'
      dayOfWeek: 0
      startHour: 19
      startMinute: 0
    }
  }
}

resource appDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

// Slow queries can be found (docs/operations.md, "Slow queries"): pg_stat_statements allow-listed
// (migration 0008 creates it) and preloaded, and every statement slower than 500 ms logged.
// One parameter at a time: the server refuses concurrent configuration changes. A changed
// shared_preload_libraries takes effect at the server's next restart.
var serverParameters = [
  {
    name: 'azure.extensions'
    value: 'PG_STAT_STATEMENTS'
  }
  {
    name: 'shared_preload_libraries'
    value: 'pg_stat_statements'
  }
  {
    name: 'log_min_duration_statement'
    value: '500'
  }
]

@batchSize(1)
resource parameters 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = [
  for parameter in serverParameters: {
    parent: server
    name: parameter.name
    properties: {
      value: parameter.value
      source: 'user-override'
    }
  }
]

// The Entra administrator (a member of azure_pg_admin, not the app): creates the role of the app's
// managed identity with pgaadauth_create_principal_with_oid (.github/workflows/deploy.yml).
resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (activeDirectoryAuth && !empty(entraAdminObjectId)) {
  parent: server
  name: entraAdminObjectId
  dependsOn: [
    appDatabase
    allowAzure
  ]
  properties: {
    principalName: entraAdminName
    principalType: entraAdminType
    tenantId: tenant().tenantId
  }
}

output name string = server.name
output id string = server.id
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = appDatabase.name
