// Role assignments: what each identity may do, scoped to one resource each.
//   Function App identity: Storage Blob Data Owner on the account (host storage, deployment
//     package, models, backups), Storage Queue Data Contributor on the account (the app enqueues
//     background jobs; the host's queue triggers read, delete and move them to -poison) and Key
//     Vault Secrets User on the vault.
//   The deploying person (optional): Key Vault Secrets Officer, to set and rotate secrets.
//   The CI/CD service principal (optional): Key Vault Secrets User, to read DatabaseOwnerURL for
//     `alembic upgrade head` and DatabaseURL for `manage.py db-roles`; Storage Blob Data
//     Contributor on the backups container, for the full backup production takes before migrating.
//   The operators' group (optional, docs/operations.md "Reaching production"): Storage Blob Data
//     Reader on the backups container (`list-backups`, `verify-backup`, `restore` from a
//     workstation with `az login`), Key Vault Secrets User (DatabaseOwnerURL, BackupSigningKey
//     for restores) and Contributor on the resource group (point-in-time restore into a new
//     server, the firewall rule for their own address, restarting the app).
param storageAccountName string
param keyVaultName string
param appPrincipalId string
param userPrincipalId string = ''
param deployPrincipalId string = ''

@description('Object id of the Microsoft Entra group of operators. Empty for none.')
param operatorsGroupId string = ''

@description('Blob container of the app\'s backups (BACKUP_CONTAINER).')
param backupContainerName string = 'backups'

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource backupsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${backupContainerName}'
}

resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: userPrincipalId
  }
}

resource deploySecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployPrincipalId)) {
  name: guid(vault.id, deployPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployBackupsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployPrincipalId)) {
  name: guid(backupsContainer.id, deployPrincipalId, roles.storageBlobDataContributor)
  scope: backupsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorsBackupsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorsGroupId)) {
  name: guid(backupsContainer.id, operatorsGroupId, roles.storageBlobDataReader)
  scope: backupsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: operatorsGroupId
    principalType: 'Group'
  }
}

resource operatorsSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorsGroupId)) {
  name: guid(vault.id, operatorsGroupId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: operatorsGroupId
    principalType: 'Group'
  }
}

resource operatorsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorsGroupId)) {
  name: guid(resourceGroup().id, operatorsGroupId, roles.contributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.contributor)
    principalId: operatorsGroupId
    principalType: 'Group'
  }
}
