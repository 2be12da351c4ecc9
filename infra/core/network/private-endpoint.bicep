// One private endpoint of a service (PostgreSQL, Key Vault, a Storage sub-service) in the
// private-endpoints subnet, with the private DNS zone that makes the service's usual host name
// resolve to the endpoint's private address inside the virtual network.
param name string
param location string = resourceGroup().location
param tags object = {}

param subnetId string
param vnetId string

@description('Resource id of the service the endpoint connects to.')
param serviceId string

@description('Sub-resource of the service: postgresqlServer, vault, blob, queue or table.')
param groupId string

@description('Private DNS zone of that sub-resource, e.g. privatelink.postgres.database.azure.com.')
param dnsZoneName string

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: dnsZoneName
  location: 'global'
  tags: tags
}

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }

  resource dnsGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(dnsZoneName, '.', '-')
          properties: {
            privateDnsZoneId: zone.id
          }
        }
      ]
    }
  }
}

output id string = endpoint.id
